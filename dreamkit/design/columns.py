"""Canonical column names of the trial table.

dreamkit's trial table has one row per randomised person. Users with other names pass a
mapping to :func:`dreamkit.design.trial.read_trial`; inside dreamkit these names are used.
"""

from __future__ import annotations

PERSON = "person_id"  # person identifier (private: never printed)
STRATUM = "municipality"  # randomisation stratum
CLUSTER = "team"  # randomisation cluster (the course team, "hold")
TREATED = "treated"  # 1 = course, 0 = control
ALLOCATION_DATE = "allocation_date"  # pl.Date
TEAM_LAST_ALLOCATION = "team_last_allocation"  # pl.Date: last allocation in the person's team
WAITING_DAYS = "waiting_days"  # days from own allocation to the team's last allocation
ALLOCATION_WEEK = "allocation_week"  # week ordinal (dreamkit.register.calendar) of allocation
UWSES_ITEMS = tuple(f"uwses_{k}" for k in range(1, 7))  # UW-SES items, each 0-4
UWSES = "uwses"  # UW-SES total, 0-24
