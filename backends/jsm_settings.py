"""The settings of a JSM profile (JSMBackend.settings), importable without jira or requests."""

from tixcli.config import HTTP_SETTINGS, Setting, secret_settings

SETTINGS = {
    **HTTP_SETTINGS,
    **secret_settings("token", "Atlassian API token"),
    "service_desk": Setting((str, int), None, "the service desk: project key or id (required)"),
    "request_types": Setting(dict, None, "tixcli type (or default) -> request type name"),
    "transitions": Setting(dict, None, "tixcli verb (solve, close, reopen, pending, hold) -> transition name(s)"),
    "statuses": Setting(dict, None, "pending, hold, solved, closed -> the status names that count as it"),
    "priorities": Setting(dict, None, "tixcli priority -> JSM priority name"),
    "resolution": Setting(str, "Done", "sent when a transition's screen requires a resolution"),
    "fields": Setting(
        dict,
        None,
        "custom fields by name -> the site's field id (customfield_NNNNN); a field named group carries "
        "the group (create/edit/list --group)",
    ),
    "sla_fields": Setting(
        dict,
        None,
        "tixcli SLA metric (first_reply, resolution, ...) -> the site's SLA field name: list --breaching / "
        "--due-within ask JQL's SLA functions on them (without it tixcli filters what the search gives)",
    ),
    "escalation": Setting(
        dict,
        None,
        "tixcli escalate: {project: ENG, issue_type: Task, link_type: Escalates, stages: {status name: stage}} "
        "(an issue of the engineering project linked to the request; its status is the stage)",
    ),
    "export_overlap_minutes": Setting(
        float,
        15.0,
        "export --state re-reads this many minutes before the previous run (JQL's minute resolution, "
        "the search index's lag, clock skew)",
    ),
}
