"""Answers Lambda: the owner's answers the interactivity endpoint queued (each alone, once per click or form) →
capabilities.answers.run; one that fails goes back to the queue, then the DLQ."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from cost_janitor.adapters.clients import client
from cost_janitor.adapters.ledger import SlackState
from cost_janitor.adapters.slack import SLACK_API, SlackGateway, load_secrets
from cost_janitor.capabilities import answers
from cost_janitor.events import AnswersQueueEvent, SlackInteraction
from cost_janitor.observability import logger
from cost_janitor.runtime import each_record, idempotent_call, janitor_handler, load_policy_for
from cost_janitor.settings import AnswersSettings


@janitor_handler(AnswersQueueEvent)
def lambda_handler(event: AnswersQueueEvent, context: LambdaContext) -> dict[str, Any]:
    """Each queued answer alone: one that fails (throttled, Slack down) goes back to the queue, then the DLQ."""
    settings = AnswersSettings.from_env()
    secrets = load_secrets(client("secretsmanager", settings.region), settings.slack_secret_arn)
    ctx = answers.Ctx(settings=settings, policy=load_policy_for(settings), now=datetime.now(UTC),
                      slack=SlackGateway(secrets.bot_token, base_url=settings.slack_api_url or SLACK_API),
                      state=SlackState(client("dynamodb", settings.region), settings.ledger_table))

    def answer(record: SQSRecord) -> dict[str, Any]:
        try:
            interaction = SlackInteraction.model_validate_json(record.body).root
        except ValidationError as exc:
            logger.error("not a Slack interaction", extra={"message_id": record.message_id,
                                                           "errors": exc.error_count()})
            raise
        try:
            result: dict[str, Any] = idempotent_call(lambda: answers.run(ctx, interaction),
                                                     key=answers.key_of(interaction), settings=ctx.settings,
                                                     context=context)
        except Exception as exc:
            logger.error("answer not carried out", extra={"message_id": record.message_id,
                                                          "error": type(exc).__name__, "reason": str(exc)[:500]})
            raise
        logger.info("answered", extra={"key": answers.key_of(interaction), **result})
        return result

    return each_record(event, answer, context)
