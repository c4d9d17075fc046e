-- Am I over? A user's own value and ratios per metric, beside the cohort's published threshold and any flag.
-- The flag uses the leave-one-out mean (reference_mean); threshold_value is the published, whole-cohort figure.
select
    r.metric,
    r.value,
    r.reference_mean,
    r.ratio_to_cohort,
    r.ratio_to_estimate,
    t.threshold_value,
    f.severity as flagged,
    f.consecutive_months
from marts.fct_user_excess_ratios as r
inner join marts.fct_published_thresholds as t using (month, country, plan, metric)
left join marts.fct_fair_use_flags as f using (month, user_id, metric)
where r.user_id = $user_id and r.month = $month
order by r.metric
