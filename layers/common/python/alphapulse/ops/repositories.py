"""The operations command's AWS side: SQS queues, Lambda functions and the stack's resources, through
alphapulse.aws.sdk."""

from __future__ import annotations

import json
from typing import Any

from alphapulse.aws import sdk
from alphapulse.ops.models import Message, MoveTask, Queue


class SqsQueues:
    def find(self, reference: str) -> Queue:
        """A queue by URL, ARN or name."""
        if reference.startswith(("https://", "http://")):
            url = reference
        elif reference.startswith("arn:"):
            _, _, _, _, account, name = reference.split(":", 5)
            url = sdk.call("sqs", "get_queue_url", QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
        else:
            url = sdk.call("sqs", "get_queue_url", QueueName=reference)["QueueUrl"]
        arn = sdk.call("sqs", "get_queue_attributes", QueueUrl=url, AttributeNames=["QueueArn"])
        return Queue(url, arn["Attributes"]["QueueArn"])

    def dead_letter_sources(self, queue: Queue) -> list[str]:
        """The names of the queues whose redrive policy sends their failures to `queue`."""
        found = sdk.call("sqs", "list_dead_letter_source_queues", QueueUrl=queue.url)
        return [url.rsplit("/", 1)[-1] for url in found.get("queueUrls", [])]

    def depth(self, queue: Queue) -> int:
        found = sdk.call("sqs", "get_queue_attributes", QueueUrl=queue.url,
                         AttributeNames=["ApproximateNumberOfMessages"])  # fmt: skip
        return int(found["Attributes"]["ApproximateNumberOfMessages"])

    def start_move(self, queue: Queue) -> None:
        """Every message back to the queue it came from."""
        sdk.call("sqs", "start_message_move_task", SourceArn=queue.arn)

    def latest_move(self, queue: Queue) -> MoveTask:
        [task] = sdk.call("sqs", "list_message_move_tasks", SourceArn=queue.arn, MaxResults=1)["Results"]
        return MoveTask(task["Status"], int(task.get("ApproximateNumberOfMessagesMoved", 0)),
                        int(task.get("ApproximateNumberOfMessagesToMove", 0)), task.get("FailureReason"))  # fmt: skip

    def receive(self, queue: Queue, hidden_seconds: int) -> list[Message]:
        found = sdk.call("sqs", "receive_message", QueueUrl=queue.url, MaxNumberOfMessages=10,
                         VisibilityTimeout=hidden_seconds, WaitTimeSeconds=1)  # fmt: skip
        return [Message(m["MessageId"], m["ReceiptHandle"], m["Body"]) for m in found.get("Messages", [])]

    def delete(self, queue: Queue, message: Message) -> None:
        sdk.call("sqs", "delete_message", QueueUrl=queue.url, ReceiptHandle=message.receipt_handle)

    def release(self, queue: Queue, message: Message) -> None:
        sdk.call("sqs", "change_message_visibility", QueueUrl=queue.url, ReceiptHandle=message.receipt_handle,
                 VisibilityTimeout=0)  # fmt: skip


class LambdaFunctions:
    def invoke(self, function_arn: str, payload: Any) -> str | None:
        """Run the function synchronously on `payload`: None when it succeeded, else why it failed."""
        name = function_arn.removesuffix(":$LATEST")  # a record's ARN names the version that ran
        try:
            reply = sdk.call("lambda", "invoke", FunctionName=name, InvocationType="RequestResponse",
                             Payload=json.dumps(payload).encode())  # fmt: skip
        except sdk.SdkError as exc:
            return str(exc)
        if not reply.get("FunctionError"):
            return None
        try:
            error = json.loads(reply["Payload"].read())
        except ValueError:
            return str(reply["FunctionError"])
        if not isinstance(error, dict):
            return str(reply["FunctionError"])
        return ": ".join(str(part) for part in (error.get("errorType"), error.get("errorMessage")) if part)


class Stack:
    def physical_id(self, stack_name: str, logical_id: str) -> str:
        """The physical id (a queue's URL) of one of a CloudFormation stack's resources."""
        found = sdk.call("cloudformation", "describe_stack_resource", StackName=stack_name,
                         LogicalResourceId=logical_id)  # fmt: skip
        return str(found["StackResourceDetail"]["PhysicalResourceId"])
