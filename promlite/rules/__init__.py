"""Rules and alerts: rule files, their evaluation, and sending alerts to Alertmanager (issue 14)."""
