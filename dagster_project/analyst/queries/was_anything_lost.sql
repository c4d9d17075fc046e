-- Was anything lost? Loads where rows read != counted + quarantined + duplicates dropped (must return no rows).
select *
from audit.load_balance
where rows_read != rows_counted + rows_quarantined + duplicates_dropped
order by month, dataset
