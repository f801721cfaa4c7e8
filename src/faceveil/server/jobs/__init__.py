"""The studio's jobs: the worker thread, and the job kinds, registered here explicitly.

A kind is ``run(ctx) -> result`` plus ``validate(store, params) -> params``, which checks a
job's parameters before it is queued, and ``check(params)``, which an upload route runs before
it stores the uploaded file.
"""

from faceveil.server.jobs import handlers
from faceveil.server.jobs.worker import (
    HANDLERS,
    Handler,
    JobCancelled,
    JobContext,
    Worker,
    register_handler,
)

register_handler(
    "anonymize_video", handlers.run_video, handlers.validate_video, handlers.check_video_params
)
register_handler("anonymize_dataset", handlers.run_dataset, handlers.validate_dataset_job)
register_handler("train", handlers.run_train, handlers.validate_train)

__all__ = ["HANDLERS", "Handler", "JobCancelled", "JobContext", "Worker", "register_handler"]
