"""awsglue.utils stand-in: getResolvedOptions with Glue's semantics.

As in Glue: argparse over argv[1:]; every name asked for is a required `--NAME value`; unknown arguments
are ignored (parse_known_args); Glue's own arguments (--JOB_NAME, --JOB_ID, --JOB_RUN_ID,
--job-bookmark-option, --TempDir, ...) are accepted, and asking for one of the reserved ones is an error;
the result also holds job_bookmark_option (default job-bookmark-disable) and TempDir/RedshiftTempDir.
A missing or malformed argument raises GlueArgumentError (Glue's parser raises instead of exiting).
"""
import argparse

from awsglue.job import Job

_global_args = {}


class GlueArgumentError(Exception):
    pass


class GlueArgumentParser(argparse.ArgumentParser):
    def error(self, message):
        raise GlueArgumentError(message)


def _bare(option):
    return option[2:] if option.startswith("--") else option


def getResolvedOptions(args, options):  # noqa: N802 - Glue's name
    parser = GlueArgumentParser()
    bookmark = Job.job_bookmark_options()
    continuation = Job.continuation_options()
    for reserved in (continuation[0], bookmark[0], *Job.job_bookmark_range_options(), *Job.id_params()[1:], Job.encryption_type_options()[0]):
        if _bare(reserved) in options:
            raise RuntimeError("Using reserved arguments " + reserved)
    parser.add_argument(bookmark[0], choices=bookmark[1:], required=False)
    parser.add_argument(continuation[0], choices=continuation[1:], required=False)
    for option in Job.job_bookmark_range_options():
        parser.add_argument(option, required=False)
    for option in Job.id_params()[1:]:
        parser.add_argument(option, required=False)
    parser.add_argument(Job.encryption_type_options()[0], choices=Job.encryption_type_options()[1:])
    options = [o for o in options if o not in {"RedshiftTempDir", "TempDir"}]
    parser.add_argument("--RedshiftTempDir", required=False)
    parser.add_argument("--TempDir", required=False)
    for option in options:
        parser.add_argument("--" + option, required=True)

    parsed, _extra = parser.parse_known_args(args[1:])
    result = vars(parsed)
    if result.get("TempDir") is not None:
        result["RedshiftTempDir"] = result["TempDir"]
    elif result.get("RedshiftTempDir") is not None:
        result["TempDir"] = result["RedshiftTempDir"]
    continuation_value = result.pop("continuation_option", None)
    if result.get("job_bookmark_option") is None:
        if continuation_value is None:
            result["job_bookmark_option"] = bookmark[3]
        else:
            result["job_bookmark_option"] = bookmark[continuation.index(continuation_value)]
    absent = [o for o in Job.job_bookmark_range_options() if result.get(o[2:].replace("-", "_")) is None]
    if result["job_bookmark_option"] == "job-bookmark-pause":
        if len(absent) == 1:
            raise RuntimeError("Missing option or value for " + absent[0])
    elif not absent:
        raise RuntimeError("Invalid option(s)" + " ".join(Job.job_bookmark_range_options()))
    _global_args.update(result)
    return result
