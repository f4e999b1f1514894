"""The `kpis` view: governance KPIs per system and month, each with its
numerator and denominator so a reader can recompute it."""

KPIS_SQL = """
create view kpis as
with decisions as (
    select *, strftime(decided_at, '%Y-%m') as period,
           coalesce(waivers_applied, '[]') <> '[]' as waived
    from gate_decisions
)
select 'gate_pass_rate' as kpi, system, period,
       avg(case when verdict = 'pass' then 1.0 else 0.0 end) as value,
       sum(case when verdict = 'pass' then 1 else 0 end)::double as numerator, count(*)::double as denominator
from decisions group by system, period
union all
select 'gate_fail_rate', system, period, avg(case when verdict = 'fail' then 1.0 else 0.0 end),
       sum(case when verdict = 'fail' then 1 else 0 end)::double, count(*)::double
from decisions group by system, period
union all
select 'waiver_rate', system, period, avg(case when waived then 1.0 else 0.0 end),
       sum(case when waived then 1 else 0 end)::double, count(*)::double
from decisions group by system, period
union all
select 'evidence_completeness', system, strftime(created_at, '%Y-%m'), avg(completeness), sum(completeness), count(*)::double
from evidence_bundles group by system, strftime(created_at, '%Y-%m')
"""
