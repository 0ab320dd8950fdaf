"""Questions asked within a conversation: the history goes to the pipeline, each turn is kept."""

from __future__ import annotations

from collections.abc import Iterator

from qa.core.types import Answer, Turn
from qa.pipeline import Pipeline
from web.conversations import ConversationStore, Message
from web.schemas import AnswerOut, AskResponse, ConversationOut, ConversationSummary, TurnOut
from web.sse import primed


class Chat:
    """One owner's conversations: ``owner`` is who asks (``web.owners``)."""

    def __init__(self, pipeline: Pipeline, store: ConversationStore, owner: str) -> None:
        self.pipeline = pipeline
        self.store = store
        self.owner = owner

    def ask(self, question: str, conversation_id: str | None = None) -> AskResponse:
        text, history = self._prepare(question, conversation_id)
        return self._record(conversation_id, text, self.pipeline.ask(text, history))

    def stream(
        self, question: str, conversation_id: str | None = None
    ) -> Iterator[str | AskResponse]:
        """Text deltas, then the recorded answer; input errors are raised before the first."""
        text, history = self._prepare(question, conversation_id)
        events = primed(self.pipeline.ask_stream(text, history))
        return (
            self._record(conversation_id, text, item) if isinstance(item, Answer) else item
            for item in events
        )

    def conversation(self, conversation_id: str) -> ConversationOut:
        summary = ConversationSummary.of(self.store.conversation(conversation_id, owner=self.owner))
        messages = self.store.messages(conversation_id, owner=self.owner)
        return ConversationOut(**summary.model_dump(), turns=[_turn(m) for m in messages])

    def _prepare(self, question: str, conversation_id: str | None) -> tuple[str, list[Turn]]:
        """The checked question and the conversation's history: an empty, unknown or another
        owner's conversation id fails here, before any answer is computed."""
        text = self.pipeline.check_question(question)
        if conversation_id is None:
            return text, []
        return text, self.store.history(conversation_id, owner=self.owner)

    def _record(self, conversation_id: str | None, question: str, answer: Answer) -> AskResponse:
        body = AnswerOut.of(answer, self.pipeline.data.articles)
        message = self.store.add_turn(
            conversation_id, question, answer.text, body.model_dump_json(), owner=self.owner
        )
        return AskResponse(
            **body.model_dump(), conversation_id=message.conversation_id, message_id=message.id
        )


def _turn(message: Message) -> TurnOut:
    return TurnOut(
        message_id=message.id,
        question=message.question,
        answer=AnswerOut.model_validate_json(message.answer_json),
        rating=message.rating,
        comment=message.comment,
    )
