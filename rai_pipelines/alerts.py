"""Alerts for failed quality checks and drift verdicts.

Sent from the check or asset that found the problem, not from a run-failure
sensor: Dagster OSS's run-failure sensor does not fire on failed asset checks
(dagster-io/dagster#29896). Channels: a webhook URL receiving Slack-compatible
JSON (`{"text": ..., "blocks": [...]}`), or a local JSON-lines file. A webhook
that cannot be reached after retries falls back to the file, so an alert is
never lost silently.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path


@dataclass(frozen=True)
class Alert:
    kind: str  # data_quality_failed, dataset_drift, champion_regression
    system: str
    dataset_version: str
    summary: str
    details: list[str] = field(default_factory=list)
    link: str = ""
    raised_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())

    def slack_payload(self) -> dict:
        text = f":rotating_light: [{self.system}] {self.summary}"
        blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": f"*{self.kind}* on `{self.dataset_version}`\n{self.summary}"}}]
        if self.details:
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(f"• {d}" for d in self.details[:20])}})
        if self.link:
            blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"<{self.link}|evidence>"}]})
        return {"text": text, "blocks": blocks, "rai": asdict(self)}


@dataclass(frozen=True)
class AlertChannel:
    webhook_url: str = ""
    file: str = ""
    retries: int = 3
    timeout_seconds: float = 5.0

    def send(self, alert: Alert) -> str:
        """Deliver the alert; returns where it went ('webhook', 'file' or 'nowhere')."""
        payload = alert.slack_payload()
        if self.webhook_url:
            body = json.dumps(payload).encode()
            for attempt in range(self.retries):
                try:
                    req = urllib.request.Request(self.webhook_url, data=body, headers={"Content-Type": "application/json"})
                    with urllib.request.urlopen(req, timeout=self.timeout_seconds) as resp:
                        if 200 <= resp.status < 300:
                            return "webhook"
                except (urllib.error.URLError, OSError):
                    pass
                time.sleep(0.2 * 2**attempt)
        if self.file:
            path = Path(self.file)
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a") as fh:
                fh.write(json.dumps({**payload, "delivered_to": "file"}) + "\n")
            return "file"
        return "nowhere"
