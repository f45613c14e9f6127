/* Time in seconds, for every module: monotonic (durations, deadlines) and
 * wall-clock. */
#ifndef TSSO_CLOCK_H
#define TSSO_CLOCK_H

double tsso_now_mono(void);
double tsso_now_wall(void);

#endif
