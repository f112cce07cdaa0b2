"""Reports rendered from the core's values: the daily sheet, the monthly report, charts, PDF."""
