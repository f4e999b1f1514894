"""The `kpis` view: governance KPIs per system and month, each with its
numerator and denominator so a reader can recompute it.

| kpi | numerator / denominator | period of |
|---|---|---|
| evaluation_coverage | (production dataset version x model version registered before it arrived) pairs with an assessed gate decision / all such pairs | dataset arrival |
| system_coverage (system `*`) | systems whose latest production dataset version has an assessed decision / systems with a production dataset version | today |
| gate_pass_rate, gate_fail_rate | decisions with that verdict / decisions | decision |
| waiver_rate | decisions with a waiver applied / decisions | decision |
| <family>_regression_rate | decisions where a <family> regression check against a different champion failed (or was waived) / decisions where one was judged | decision |
| privacy_leakage_pass_rate | decisions whose privacy checks all passed / decisions with a judged privacy check | decision |
| jailbreak_resilience | attacks resisted / attacks (from `attack_success_rate` on the overall slice) | evaluation |
| hallucination_rate | hallucinated answers / answers (from `hallucination_rate` on the overall slice) | evaluation |
| evidence_completeness | evidence fields present / bundles | bundle |
| time_to_decision_hours | hours from registration to the first assessed decision, summed / model versions decided | registration |
| estimate_abs_error | absolute error of estimates made while labels were pending, summed / estimates whose labels landed (`estimate_errors`) | labels landing |
| estimate_coverage | estimates whose interval covered the realized value / estimates whose labels landed | labels landing |
| mttd_hours | hours from the arrival of the batch that showed a finding to its incident, summed / incidents with a batch arrival | opening |
| mttm_hours | hours from an incident's opening to its mitigation, summed / incidents mitigated | mitigation |
| incidents_past_deadline (and system `*`) | incidents not closed with a deadline missed (acknowledge, mitigate, or report when not reported) / incidents not closed | today |
| review_cycle_hours | hours from a review's request to its decision, summed / reviews decided | decision |

"Assessed" means any verdict but `unassessed`. Rows exist only where their
evidence does: no safety evaluation, no jailbreak row.
"""

KPIS_SQL = """
create view kpis as
with decisions as (
    select *, strftime(decided_at, '%Y-%m') as period,
           coalesce(waivers_applied, '[]') <> '[]' as waived
    from gate_decisions
),
assessed as (
    select distinct system, model_version, dataset_version from gate_decisions where verdict <> 'unassessed'
),
pairs as (
    select d.system, d.dataset_version, m.model_version, strftime(d.registered_at, '%Y-%m') as period
    from dataset_versions d join model_versions m on m.system = d.system and m.registered_at <= d.registered_at
    where d.kind = 'production'
),
latest_versions as (
    select system, arg_max(dataset_version, registered_at) as dataset_version
    from dataset_versions where kind in ('production', 'prompts') group by system
),
judged_checks as (
    select *, strftime(decided_at, '%Y-%m') as period from gate_checks
    where status in ('pass', 'fail', 'waived', 'insufficient_evidence')
),
regressions as (
    select system, period, family, decision_id, bool_or(status in ('fail', 'waived')) as regressed
    from judged_checks where kind = 'regression' and compared_with is not null and status <> 'insufficient_evidence'
    group by all
),
privacy as (
    select system, period, decision_id, bool_and(status = 'pass') as passed
    from judged_checks where kind = 'threshold' and family = 'privacy' group by all
),
rates as (
    select system, strftime(recorded_at, '%Y-%m') as period, metric, value, n
    from metrics where slice = 'overall' and metric in ('attack_success_rate', 'hallucination_rate') and not isnan(value)
),
incident_events as (
    select *, min(event_at) filter (where action = 'mitigate') over (partition by incident_id) as mitigated_at,
           bool_or(action = 'report') over (partition by incident_id) as reported
    from incidents
),
incident_now as (
    select *, (status = 'open' and acknowledge_due < now())
              or (status in ('open', 'acknowledged') and mitigate_due < now())
              or (status <> 'closed' and not reported and report_due < now()) as late
    from incident_events qualify row_number() over (partition by incident_id order by event_at desc) = 1
),
decided_reviews as (
    select system, review_id, requested_at, decided_at from reviews where action = 'decide'
),
first_decisions as (
    select system, model_version, min(decided_at) as decided_at
    from gate_decisions where verdict <> 'unassessed' group by all
)
select 'evaluation_coverage' as kpi, p.system, p.period,
       avg(case when a.model_version is null then 0.0 else 1.0 end) as value,
       count(a.model_version)::double as numerator, count(*)::double as denominator
from pairs p left join assessed a using (system, model_version, dataset_version) group by p.system, p.period
union all
select 'system_coverage', '*', strftime(current_date, '%Y-%m'),
       avg(case when covered then 1.0 else 0.0 end), count(*) filter (where covered)::double, count(*)::double
from (select l.system, exists (select 1 from assessed a where a.system = l.system and a.dataset_version = l.dataset_version) as covered
      from latest_versions l)
having count(*) > 0
union all
select 'gate_pass_rate', system, period, avg(case when verdict = 'pass' then 1.0 else 0.0 end),
       count(*) filter (where verdict = 'pass')::double, count(*)::double
from decisions group by system, period
union all
select 'gate_fail_rate', system, period, avg(case when verdict = 'fail' then 1.0 else 0.0 end),
       count(*) filter (where verdict = 'fail')::double, count(*)::double
from decisions group by system, period
union all
select 'waiver_rate', system, period, avg(case when waived then 1.0 else 0.0 end),
       count(*) filter (where waived)::double, count(*)::double
from decisions group by system, period
union all
select family || '_regression_rate', system, period, avg(case when regressed then 1.0 else 0.0 end),
       count(*) filter (where regressed)::double, count(*)::double
from regressions group by family, system, period
union all
select 'privacy_leakage_pass_rate', system, period, avg(case when passed then 1.0 else 0.0 end),
       count(*) filter (where passed)::double, count(*)::double
from privacy group by system, period
union all
select 'jailbreak_resilience', system, period, 1 - sum(value * n) / sum(n), round(sum(n - value * n)), sum(n)::double
from rates where metric = 'attack_success_rate' group by system, period having sum(n) > 0
union all
select 'hallucination_rate', system, period, sum(value * n) / sum(n), round(sum(value * n)), sum(n)::double
from rates where metric = 'hallucination_rate' group by system, period having sum(n) > 0
union all
select 'evidence_completeness', system, strftime(created_at, '%Y-%m'), avg(completeness), sum(completeness), count(*)::double
from evidence_bundles group by system, strftime(created_at, '%Y-%m')
union all
select 'time_to_decision_hours', m.system, strftime(m.registered_at, '%Y-%m'),
       avg(epoch(f.decided_at - m.registered_at) / 3600), sum(epoch(f.decided_at - m.registered_at) / 3600), count(*)::double
from model_versions m join first_decisions f using (system, model_version) group by m.system, strftime(m.registered_at, '%Y-%m')
union all
select 'estimate_abs_error', system, strftime(recorded_at, '%Y-%m'), avg(abs(error)), sum(abs(error)), count(*)::double
from estimate_errors group by system, strftime(recorded_at, '%Y-%m')
union all
select 'estimate_coverage', system, strftime(recorded_at, '%Y-%m'), avg(case when covered then 1.0 else 0.0 end),
       count(*) filter (where covered)::double, count(*)::double
from estimate_errors group by system, strftime(recorded_at, '%Y-%m')
union all
select 'mttd_hours', system, strftime(opened_at, '%Y-%m'), avg(epoch(opened_at - arrived_at) / 3600),
       sum(epoch(opened_at - arrived_at) / 3600), count(*)::double
from incident_events where action = 'open' and arrived_at is not null group by system, strftime(opened_at, '%Y-%m')
union all
select 'mttm_hours', system, strftime(mitigated_at, '%Y-%m'), avg(epoch(mitigated_at - opened_at) / 3600),
       sum(epoch(mitigated_at - opened_at) / 3600), count(*)::double
from incident_now where mitigated_at is not null group by system, strftime(mitigated_at, '%Y-%m')
union all
select 'incidents_past_deadline', coalesce(system, '*'), strftime(current_date, '%Y-%m'),
       avg(case when late then 1.0 else 0.0 end), count(*) filter (where late)::double, count(*)::double
from incident_now where status <> 'closed' group by grouping sets ((system), ()) having count(*) > 0
union all
select 'review_cycle_hours', system, strftime(decided_at, '%Y-%m'), avg(epoch(decided_at - requested_at) / 3600),
       sum(epoch(decided_at - requested_at) / 3600), count(*)::double
from decided_reviews group by system, strftime(decided_at, '%Y-%m')
"""
