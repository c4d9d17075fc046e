-- Accounts on the enforcement ladder in a month, with what they owe (largest charge first).
select
    account_id,
    flagged_users,
    consecutive_months,
    action,
    excess_charge_amount,
    currency
from marts.fct_account_enforcement
where month = $month
order by excess_charge_amount desc, account_id
