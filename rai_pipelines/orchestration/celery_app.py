"""The Celery app `rai worker` runs: dagster-celery's step task, on the profile's broker and with the same task
settings as the executor's side (orchestration/executors.py), so a step a run submits is a step a worker takes."""

from dagster_celery.make_app import make_app
from dagster_celery.tasks import create_task

from rai_pipelines.orchestration.executors import CELERY_CONFIG
from rai_pipelines.settings import load_settings

app = make_app({"broker": load_settings().celery_broker, "backend": "rpc://"})
app.conf.update(CELERY_CONFIG)
execute_plan = create_task(app)
