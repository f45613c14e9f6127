/* How many CPUs this process may use, for sizing the event threads. */
#ifndef TSSO_CPU_H
#define TSSO_CPU_H

#include <stddef.h>

/* CPUs in the process's affinity mask, capped by the cgroup v2 CPU quota
 * (cpu.max) of its cgroup and of each ancestor, rounded up; at least 1. */
unsigned tsso_cpus_usable(void);

/* One cpu.max text ("QUOTA PERIOD" or "max PERIOD"): the CPUs it allows,
 * rounded up, in *cpus (0: no limit). -1 for text that is neither. */
int tsso_cpu_max_parse(const char *text, size_t len, unsigned *cpus);

/* The default number of event threads for CPUS usable CPUs. */
unsigned tsso_cpu_default_threads(unsigned cpus);

#endif
