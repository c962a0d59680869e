"""HTTP requests being answered, and how much of a fetched batch the consumer hands a
handler at once.

A worker catching up fetches tens of thousands of records a topic, and a handler took a
second or more over them while every other task waited for the event loop. A scrape of 500
queues needs a dozen turns of the loop (its snapshot and page in slices, its 13 MB written as
the client reads), so it took several seconds and failed Prometheus's 5 s timeout; a minute
of failures pages on-call staff about a worker that is only busy
(benchmarks/catchup_scrapes.py). So the consumer hands its handlers pieces of a batch that
take about :data:`BUSY_PIECE_SECONDS`, and :data:`PIECE_SECONDS` while a request is being
answered, each topic's time a record measured on its latest piece, with
:data:`REQUEST_TURNS` turns of the loop after each piece. A piece's output (a message for
each queue touched, a state for each call) costs more per record than a whole batch's, so a
catch-up goes slower; live traffic's batches are far smaller than a piece. Usage::

    waiting = RequestsWaiting()
    app = faust.App(..., web_application_options={"middlewares": [waiting.middleware]})
    waiting.handled("callcenter.calls", records=20_000, seconds=2.0)
    waiting.records_per_piece("callcenter.calls")      # 10,000 (500 while a request is answered)
"""

from __future__ import annotations

from aiohttp import web

from stream.http_guard import Handler

PIECE_SECONDS = 0.05  # a piece's time while a request is being answered
# ... and while none is: the longest a new request waits before it is (a piece's time costs
# the more the shorter it is: a queue's message and a call's state are written once a piece)
BUSY_PIECE_SECONDS = 1.0
# Loop turns after each piece: a request is read and started over three (its connection
# accepted, its bytes read, its task run), each after the turn's other callbacks
REQUEST_TURNS = 3


class RequestsWaiting:
    """Counts the requests being answered; sizes the pieces of batches handed over meanwhile."""

    def __init__(
        self, piece_seconds: float = PIECE_SECONDS, busy_piece_seconds: float = BUSY_PIECE_SECONDS
    ) -> None:
        self.piece_seconds, self.busy_piece_seconds = piece_seconds, busy_piece_seconds
        self.answering = 0
        self._seconds_per_record: dict[str, float] = {}

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        self.answering += 1
        try:
            return await handler(request)
        finally:
            self.answering -= 1

    def records_per_piece(self, topic: str) -> int | None:
        """How many of ``topic``'s records to hand over at once; ``None``: the whole batch."""
        per_record = self._seconds_per_record.get(topic)
        if per_record is None:
            return None
        seconds = self.piece_seconds if self.answering else self.busy_piece_seconds
        return max(1, int(seconds / per_record))

    def handled(self, topic: str, records: int, seconds: float) -> None:
        """A handler took ``seconds`` over ``records`` of ``topic``: the next pieces' measure."""
        if records:
            self._seconds_per_record[topic] = seconds / records
