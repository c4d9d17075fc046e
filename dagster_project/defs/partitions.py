"""The monthly partitions every asset shares: one partition per UTC calendar month, keys `YYYY-MM`.

They run from 2015-01 to a year past the current month, so data of any recent or upcoming month can be built;
the schedule picks the month that just closed itself.
"""

import dagster as dg

FIRST_MONTH = "2015-01"

monthly_partitions = dg.MonthlyPartitionsDefinition(
    start_date=FIRST_MONTH, fmt="%Y-%m", timezone="UTC", end_offset=12
)

# Every asset of a month runs in the same run as the others: one backfill policy for all of them.
one_month_per_run = dg.BackfillPolicy.multi_run(max_partitions_per_run=1)
