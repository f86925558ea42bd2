"""awsglue.job stand-in: Job with the reserved-option lists getResolvedOptions uses, init and commit."""


class Job:
    """What a script sees of a Glue job run. Bookmarks are not modelled: commit() records that it was called."""

    @classmethod
    def continuation_options(cls):
        return ["--continuation-option", "continuation-enabled", "continuation-readonly", "continuation-ignore"]

    @classmethod
    def job_bookmark_options(cls):
        return ["--job-bookmark-option", "job-bookmark-enable", "job-bookmark-pause", "job-bookmark-disable"]

    @classmethod
    def job_bookmark_range_options(cls):
        return ["--job-bookmark-from", "--job-bookmark-to"]

    @classmethod
    def id_params(cls):
        return ["--JOB_NAME", "--JOB_ID", "--JOB_RUN_ID", "--SECURITY_CONFIGURATION"]

    @classmethod
    def encryption_type_options(cls):
        return ["--encryption-type", "sse-s3"]

    def __init__(self, glue_context):
        self._glue_context = glue_context
        self._name = None
        self.committed = False

    def init(self, job_name, args=None):
        self._name = job_name
        self.args = dict(args or {})

    def isInitialized(self):  # noqa: N802 - Glue's name
        return self._name is not None

    def commit(self):
        if self._name is None:
            raise RuntimeError("Job.commit() before Job.init()")
        self.committed = True
