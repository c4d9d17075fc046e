-- Prohibited use in a month, each flag with the sentence to defend it.
select
    account_id,
    user_id,
    pattern,
    evidence
from marts.fct_prohibited_use_flags
where month = $month
order by account_id, user_id, pattern
