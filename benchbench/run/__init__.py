"""Running a suite: plan (driver side), worker, typed events, executors, and the driver
that is the single writer of the results store."""
