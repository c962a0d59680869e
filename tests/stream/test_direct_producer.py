"""One hand-over's outcome from librdkafka's delivery reports: done, refused in part, or failed."""

from __future__ import annotations

import asyncio

import pytest
from confluent_kafka import KafkaError, KafkaException

from metrics.pipeline import PipelineStats
from stream.direct_producer import HandOver, Message, RefusalLog, _collect_deliveries


class Delivered:
    """What a delivery report says of its message that the hand-over reads."""

    def __init__(self, topic: str) -> None:
        self._topic = topic

    def topic(self) -> str:
        return self._topic


def hand_over(produced: int, stats: PipelineStats) -> HandOver:
    handed = HandOver(RefusalLog(stats))
    handed.produced = produced
    return handed


async def test_a_hand_over_is_done_once_closed_and_every_message_answered() -> None:
    handed = hand_over(2, PipelineStats())
    handed.answer(None, Delivered("t"))
    handed.close()
    assert not handed.outcome.done()
    handed.answer(None, Delivered("t"))
    assert handed.outcome.done() and handed.outcome.result() is None


async def test_answers_before_the_close_wait_for_it() -> None:
    handed = hand_over(1, PipelineStats())
    handed.answer(None, Delivered("t"))
    assert not handed.outcome.done()  # more may still be produced
    handed.close()
    assert handed.outcome.done()


async def test_a_message_refused_for_good_is_counted_and_the_rest_delivered() -> None:
    stats = PipelineStats()
    handed = hand_over(2, stats)
    handed.answer(KafkaError(KafkaError.MSG_SIZE_TOO_LARGE), Delivered("t"))
    handed.answer(None, Delivered("t"))
    handed.close()
    assert handed.outcome.result() is None
    assert stats.output_failures == {("t", "too_large"): 1}


async def test_an_error_that_may_pass_fails_the_batch_once_all_are_answered() -> None:
    handed = hand_over(2, PipelineStats())
    handed.close()
    handed.answer(KafkaError(KafkaError._MSG_TIMED_OUT), Delivered("t"))
    assert not handed.outcome.done()
    handed.answer(None, Delivered("t"))
    with pytest.raises(KafkaException):
        await asyncio.wait_for(handed.outcome, 1)


async def test_a_refusal_by_produce_itself_is_counted_and_other_errors_raised() -> None:
    stats = PipelineStats()
    handed = hand_over(0, stats)
    handed.refused_now(Message("t", 0, b"k", b"v"), KafkaError(KafkaError.MSG_SIZE_TOO_LARGE))
    assert stats.output_failures == {("t", "too_large"): 1}
    with pytest.raises(KafkaException):
        handed.refused_now(Message("t", 0, b"k", b"v"), KafkaError(KafkaError._ALL_BROKERS_DOWN))


async def test_deliveries_are_still_collected_after_a_report_fails_to_be_handled() -> None:
    class FailingOnce:
        polls = 0

        def poll(self, timeout: float) -> int:
            self.polls += 1
            if self.polls == 1:
                raise RuntimeError("a callback failed")
            return 0

        def __len__(self) -> int:
            return 1  # something is always awaited: polled every POLL_SECONDS

    producer = FailingOnce()
    collecting = asyncio.ensure_future(_collect_deliveries(producer))  # type: ignore[arg-type]
    await asyncio.sleep(0.05)
    assert producer.polls > 2 and not collecting.done()
    collecting.cancel()
