"""Business rules: functions that take a session, never commit, raise domain errors."""
