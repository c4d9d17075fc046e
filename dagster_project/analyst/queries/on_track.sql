-- PROVISIONAL: users on track to exceed a threshold by the end of an open month (the latest `fairuse watch`).
select
    account_id,
    user_id,
    metric,
    value_to_date,
    round(projected_value, 1) as projected_value,
    round(threshold, 1) as threshold,
    round(projected_ratio, 2) as projected_ratio,
    projected_crossing_date,
    already_exceeded,
    as_of
from marts.fct_month_to_date_watch
where month = $month and on_track_to_exceed
order by projected_ratio desc, account_id, user_id, metric
