-- The hand-written reference of `make bench` ("hand-written usage only"): the month's usage (and rough cohorts,
-- ratios, flags, contact-center candidates) straight from the Parquet, in one DuckDB process, written by hand
-- long ago. It is NOT the pipeline's rules and is not checked against the pipeline: a floor for reading the files
-- once. The fair baseline, every published table from the dbt models' own SQL, is baseline.py.
-- Parameters are substituted by __main__.py: {raw}, {month}, {i1}, {i2}, {min_cohort}, {tm}, {cc_minutes}.
set TimeZone = 'UTC';
create temp table users_asof as
select user_id, account_id, created_at, deactivated_at from (
    select *, row_number() over (partition by user_id
        order by (snapshot_date <= last_day(date '{month}-01')) desc,
                 case when snapshot_date <= last_day(date '{month}-01') then snapshot_date end desc nulls last,
                 snapshot_date) as rn
    from (select *, cast(regexp_extract(filename, 'snapshot_date=([0-9-]+)', 1) as date) as snapshot_date
          from read_parquet('{raw}/users/*/*.parquet', filename = true))) where rn = 1;
create temp table accounts_asof as
select account_id, country, plan, declared_contact_center, surcharge_agreed_on, currency from (
    select *, row_number() over (partition by account_id
        order by (snapshot_date <= last_day(date '{month}-01')) desc,
                 case when snapshot_date <= last_day(date '{month}-01') then snapshot_date end desc nulls last,
                 snapshot_date) as rn
    from (select *, cast(regexp_extract(filename, 'snapshot_date=([0-9-]+)', 1) as date) as snapshot_date
          from read_parquet('{raw}/accounts/*/*.parquet', filename = true))) where rn = 1;
create temp table calls as
with landed as (
    select *, cast(started_at as timestamp) as s, cast(ended_at as timestamp) as e,
           cast(answered_at as timestamp) as a
    from read_parquet('{raw}/calls/month={month}/*.parquet', filename = true, file_row_number = true,
                      union_by_name = true)
), kept as (
    select * from landed where call_id is null
    union all
    select * exclude (rn) from (
        select *, row_number() over (partition by call_id order by filename desc, file_row_number desc) as rn
        from landed where call_id is not null) where rn = 1
)
select k.user_id, k.direction,
       case when k.a is null then 0 else cast(ceil(date_diff('microsecond', k.a, k.e) / 1e6) as bigint) end as talk
from kept k join users_asof u using (user_id)
where k.call_id is not null and k.user_id is not null and k.s is not null and k.e is not null
  and k.direction in ('inbound', 'outbound', 'internal')
  and k.disposition in ('answered', 'no_answer', 'busy', 'failed', 'voicemail')
  and (k.initiated_via is null or k.initiated_via in ('app', 'desk_phone', 'web', 'api'))
  and not (k.e < k.s or k.a < k.s or k.a > k.e)
  and k.s >= date '{month}-01' and k.s < date '{month}-01' + interval 1 month
  and (k.account_id is null or k.account_id = u.account_id);
create temp table usage as
with billed as (
    select user_id, direction,
           case when talk = 0 then 0 when talk <= {i1} then {i1}
                else {i1} + cast(ceil((talk - {i1}) / {i2}) as bigint) * {i2} end as billable
    from calls
), c as (
    select user_id, count(*) as calls, sum(billable) as secs,
           sum(billable) filter (where direction != 'internal') as ext_secs
    from billed group by user_id
), m as (
    select user_id, count(*) as messages
    from (select message_id, any_value(user_id) as user_id, any_value(sent_at) as sent_at, any_value(channel) as ch
          from read_parquet('{raw}/messages/month={month}/*.parquet') where message_id is not null group by 1)
    where ch in ('sms', 'mms', 'whatsapp') and sent_at >= date '{month}-01'
      and sent_at < date '{month}-01' + interval 1 month
    group by 1
), h as (
    select user_id, count(*) as chats
    from (select chat_message_id, any_value(user_id) as user_id, any_value(sent_at) as sent_at
          from read_parquet('{raw}/chats/month={month}/*.parquet') where chat_message_id is not null group by 1)
    where sent_at >= date '{month}-01' and sent_at < date '{month}-01' + interval 1 month
    group by 1
)
select u.user_id, u.account_id, a.country, a.plan, a.declared_contact_center, a.surcharge_agreed_on,
       coalesce(c.calls, 0) as calls, coalesce(c.secs, 0) / 60.0 as call_minutes,
       coalesce(c.ext_secs, 0) as ext_secs, coalesce(h.chats, 0) as team_chats, coalesce(m.messages, 0) as messages
from users_asof u left join accounts_asof a using (account_id)
left join c using (user_id) left join m using (user_id) left join h using (user_id)
where (u.created_at < date '{month}-01' + interval 1 month
       and (u.deactivated_at is null or u.deactivated_at >= date '{month}-01'))
   or c.user_id is not null or m.user_id is not null or h.user_id is not null;
create temp table metric_values as
unpivot usage on calls, call_minutes, team_chats, messages into name metric value v;
create temp table cohorts as
select country, plan, metric, count(*) as users, avg(v) as mean_value, median(v) as median_value,
       quantile_cont(v, 0.95) as p95, quantile_cont(v, 0.99) as p99
from metric_values group by all;
create temp table ratios as
with lv as (
    select *, count(*) over (partition by country, plan, metric) as n_cp, sum(v) over (partition by country, plan, metric) as s_cp,
           count(*) over (partition by plan, metric) as n_p, sum(v) over (partition by plan, metric) as s_p,
           count(*) over (partition by metric) as n_a, sum(v) over (partition by metric) as s_a
    from metric_values
)
select user_id, account_id, metric, v,
       case when n_cp - 1 >= {min_cohort} then (s_cp - v) / (n_cp - 1)
            when n_p - 1 >= {min_cohort} then (s_p - v) / (n_p - 1)
            else (s_a - v) / nullif(n_a - 1, 0) end as reference_mean
from lv;
create temp table flags as
select *, v / reference_mean as ratio from ratios where reference_mean > 0 and v / reference_mean >= {tm} and v >= 100;
create temp table surcharge as
select account_id, sum(ext_secs) / 60.0 as minutes, count(*) as users,
       bool_or(declared_contact_center) as declared
from usage group by 1
having bool_or(declared_contact_center) or sum(ext_secs) / 60.0 / count(*) >= {cc_minutes};
select (select count(*) from usage), (select count(*) from cohorts), (select count(*) from ratios),
       (select count(*) from flags), (select count(*) from surcharge);
