import threading
import time

from dpf_hcp_operator.queue import WorkQueue


def test_events_for_one_key_merge_into_one_entry():
    q = WorkQueue()
    for _ in range(5):
        q.add(("ns", "a"))
    q.add(("ns", "b"))
    assert q.get_batch(10, timeout=0) == [("ns", "a"), ("ns", "b")]


def test_a_key_being_processed_is_not_handed_out_again_but_requeued_after():
    q = WorkQueue()
    q.add("k")
    assert q.get_batch(1, timeout=0) == ["k"]
    q.add("k")
    assert q.get_batch(1, timeout=0) == []
    q.done("k")
    assert q.get_batch(1, timeout=0) == ["k"]


def test_backoff_doubles_per_failure_and_resets_on_forget():
    q = WorkQueue(base_delay=0.5, max_delay=4)
    delays = [q.add_rate_limited("k") for _ in range(5)]
    assert delays == [0.5, 1.0, 2.0, 4, 4]
    q.forget("k")
    assert q.add_rate_limited("k") == 0.5


def test_delayed_add_arrives_after_its_delay():
    q = WorkQueue()
    q.add_after("k", 0.2)
    assert q.get_batch(1, timeout=0.05) == []
    assert q.get_batch(1, timeout=1) == ["k"]


def test_batches_respect_the_maximum():
    q = WorkQueue()
    for i in range(7):
        q.add(i)
    assert len(q.get_batch(5, timeout=0)) == 5
    assert len(q.get_batch(5, timeout=0)) == 2


def test_shutdown_releases_waiting_workers():
    q = WorkQueue()
    got = []
    t = threading.Thread(target=lambda: got.append(q.get_batch(1)))
    t.start()
    time.sleep(0.05)
    q.shutdown()
    t.join(timeout=2)
    assert got == [[]]


def test_backing_off_while_a_delay_is_pending():
    q = WorkQueue(base_delay=0.2)
    assert not q.backing_off("k")
    q.add_rate_limited("k")
    assert q.backing_off("k") and not q.backing_off("other")
    assert q.get_batch(1, timeout=1) == ["k"]
    assert not q.backing_off("k")
