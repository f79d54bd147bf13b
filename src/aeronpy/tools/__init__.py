"""Operability tools: stat (AeronStat, --watch, --serve), errors (ErrorStat), loss (LossStat),
backlog (BacklogStat), streams (StreamStat), log_inspector (LogInspector), sizing (seed 004's
receive-path calculator) and sizing_check, metrics (OpenMetrics), dashboard (live web page).
Shared: cnc_access (open a driver's cnc.dat with clear errors) and snapshot (decoded counters)."""
