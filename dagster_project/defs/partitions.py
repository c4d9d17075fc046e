"""The monthly partitions every asset shares: one partition per UTC calendar month, keys `YYYY-MM`.

They start at FAIRUSE_FIRST_MONTH (default 2015-01) and reach a year past the current month, so data of any
recent or upcoming month can be built; the schedule picks the month that just closed itself.
"""

import os

import dagster as dg

FIRST_MONTH = os.environ.get("FAIRUSE_FIRST_MONTH", "2015-01")

monthly_partitions = dg.MonthlyPartitionsDefinition(
    start_date=FIRST_MONTH, fmt="%Y-%m", timezone="UTC", end_offset=12
)
