"""The monthly partitions every asset shares: one partition per UTC calendar month, keys `YYYY-MM`."""

import os

import dagster as dg

FIRST_MONTH = os.environ.get("FAIRUSE_FIRST_MONTH", "2024-01")

monthly_partitions = dg.MonthlyPartitionsDefinition(start_date=FIRST_MONTH, fmt="%Y-%m", timezone="UTC")
