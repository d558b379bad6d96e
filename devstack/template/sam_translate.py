"""Run by the tools virtualenv's Python (.venv/tools, where SAM CLI and its translator live): a SAM template
and its parameter values as JSON on stdin, the CloudFormation template SAM's translator makes of it on
stdout, or its error on stderr (exit 2). The translator pins a pydantic the app cannot share, hence a process.
"""

import json
import logging
import sys

import boto3
from samtranslator.model.exceptions import InvalidDocumentException
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator


def main() -> int:
    logging.getLogger("samtranslator").setLevel(logging.ERROR)  # its feature-toggle chatter
    request = json.load(sys.stdin)
    parameters = request["parameters"]
    session = boto3.session.Session(region_name=parameters["AWS::Region"])
    try:
        expanded = Translator(None, Parser(), boto_session=session).translate(
            request["template"], parameter_values=parameters, get_managed_policy_map=dict, passthrough_metadata=True
        )
    except InvalidDocumentException as exc:
        print("; ".join(str(cause) for cause in exc.causes), file=sys.stderr)
        return 2
    json.dump(expanded, sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
