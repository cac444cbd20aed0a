//! A handle on a producer's event queue (where librdkafka leaves delivery reports) that wakes an
//! async task when reports arrive, so the task can serve them on its own thread without polling
//! on a timer and without a polling thread.
//!
//! librdkafka calls back when the queue goes from empty to non-empty
//! (`rd_kafka_queue_cb_event_enable`). rdkafka wraps that call for consumers only, hence the
//! few FFI calls here.

use std::ffi::c_void;
use std::ptr::NonNull;

use rdkafka::bindings as rd;
use rdkafka::producer::{BaseProducer, Producer, ProducerContext};
use tokio::sync::Notify;

/// A producer's event queue, watched: `ready` is notified whenever the queue stops being empty.
///
/// It must be dropped before its producer (librdkafka wants every queue handle released before
/// the client is destroyed): keep it in a field declared before the producer's.
pub(crate) struct ReportQueue {
    queue: NonNull<rd::rd_kafka_queue_t>,
}

// SAFETY: librdkafka's queue handles may be used from any thread (its calls lock the queue).
unsafe impl Send for ReportQueue {}
// SAFETY: as above; `&self` only reads the queue's length.
unsafe impl Sync for ReportQueue {}

/// Called by librdkafka (on one of its threads, holding the queue's lock) when the queue goes
/// from empty to non-empty; it must be quick and must not call librdkafka.
unsafe extern "C" fn queue_not_empty(_client: *mut rd::rd_kafka_t, ready: *mut c_void) {
    // SAFETY: `ready` is the `Notify` passed to `watch`, which lives in the producer's context
    // and so outlives every librdkafka thread of that producer (they are joined when the client
    // is destroyed, before its context is dropped).
    let ready = unsafe { &*(ready as *const Notify) };
    ready.notify_one();
}

impl ReportQueue {
    /// Watches `producer`'s event queue: `ready` (which must live in the producer's context, so
    /// that it outlives the producer's threads) is notified when the queue stops being empty.
    pub(crate) fn watch<C>(producer: &BaseProducer<C>, ready: &Notify) -> Option<Self>
    where
        C: ProducerContext,
    {
        // SAFETY: the client pointer is valid while `producer` is borrowed; the call returns a
        // new reference to the client's main queue (where a producer's delivery reports go),
        // released in `drop`.
        let queue =
            NonNull::new(unsafe { rd::rd_kafka_queue_get_main(producer.client().native_ptr()) })?;
        // SAFETY: `queue` is a live handle; the callback only reads `ready`, which outlives the
        // producer's threads (see `queue_not_empty`).
        unsafe {
            rd::rd_kafka_queue_cb_event_enable(
                queue.as_ptr(),
                Some(queue_not_empty),
                ready as *const Notify as *mut c_void,
            );
        }
        Some(Self { queue })
    }

    /// Whether no event (a batch of delivery reports, or an error) waits to be served.
    pub(crate) fn is_empty(&self) -> bool {
        // SAFETY: the handle is live until `drop`.
        unsafe { rd::rd_kafka_queue_length(self.queue.as_ptr()) == 0 }
    }
}

impl Drop for ReportQueue {
    fn drop(&mut self) {
        // SAFETY: the handle is live; after disabling the callback it is released once.
        unsafe {
            rd::rd_kafka_queue_cb_event_enable(self.queue.as_ptr(), None, std::ptr::null_mut());
            rd::rd_kafka_queue_destroy(self.queue.as_ptr());
        }
    }
}
