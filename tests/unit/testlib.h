/* Helpers shared by the unit tests that start real peers (redis-server):
 * loopback ports reserved across test processes, bounded waits. */
#ifndef TSSO_TESTLIB_H
#define TSSO_TESTLIB_H

/* A port on 127.0.0.1 that nothing listens on, for a peer this test starts.
 * It is drawn below the kernel's ephemeral range (so no outbound connection
 * takes it meanwhile) and reserved with an exclusive file under
 * $TMPDIR/tsso-ports/ that the Node test helpers honour too; the reservation
 * is removed when the process exits. Returns -1 when none is found. */
int tsso_test_free_port(void);

/* Sleep ms milliseconds. */
void tsso_test_sleep_ms(long ms);

/* Wait up to ms milliseconds until something accepts TCP on 127.0.0.1:port.
 * Returns 0 when it does, -1 when the time is up. */
int tsso_test_wait_listen(int port, long ms);

#endif
