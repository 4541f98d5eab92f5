//! The body wrappers: [`RequestBody`] counts the bytes the service reads, [`ResponseBody`]
//! the bytes it hands to the server, and ends the request when the body ends.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

use crate::record::{saturating_i64, InFlight, Shared};

pin_project! {
    /// The request body as the inner service sees it: the original body, with each data
    /// frame's length added to `bytesReceived` as the service reads it.
    ///
    /// Only what is read is counted: a body the service leaves unread adds nothing. Frames
    /// pass through unchanged and the size hint is the original's, so `Content-Length`
    /// handling downstream does not change.
    pub struct RequestBody<B> {
        #[pin]
        inner: B,
        // `None` for a body that was empty from the start (a `GET`): nothing to count, and
        // no reference to keep.
        shared: Option<Arc<Shared>>,
    }
}

impl<B: Body> RequestBody<B> {
    pub(crate) fn new(inner: B, shared: &Arc<Shared>) -> Self {
        let shared = (!inner.is_end_stream()).then(|| Arc::clone(shared));
        Self { inner, shared }
    }
}

impl<B: Body> Body for RequestBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let this = self.project();
        let frame = ready!(this.inner.poll_frame(cx));
        if let (Some(shared), Some(Ok(frame))) = (this.shared.as_ref(), frame.as_ref()) {
            if let Some(data) = frame.data_ref() {
                shared
                    .stats
                    .bytes_received
                    .add(saturating_i64(bytes::Buf::remaining(data)));
            }
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<B> fmt::Debug for RequestBody<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestBody").finish_non_exhaustive()
    }
}

pin_project! {
    /// The response body as the server sees it: the inner service's body, with each data
    /// frame's length added to `bytesSent` as the server takes it.
    ///
    /// The request stays in `inFlight` until this body ends (a frame after which the body
    /// says it is at its end, or the end of the stream), fails, or is dropped — by a client
    /// that went away, say. Frames and the size hint pass through unchanged.
    pub struct ResponseBody<B>
    where
        B: Body,
    {
        #[pin]
        inner: B,
        // `None` only for a future polled again after it completed.
        request: Option<InFlight>,
    }

    impl<B> PinnedDrop for ResponseBody<B>
    where
        B: Body,
    {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            // A server may drop a body it has written entirely without polling it to its
            // end (it knew the length): then the body's own account — at its end, or no
            // bytes left by its size hint — tells that it ended rather than was cut off.
            if let Some(request) = this.request.as_mut() {
                let inner = this.inner.as_ref();
                if inner.is_end_stream() || inner.size_hint().upper() == Some(0) {
                    request.body_end();
                }
            }
        }
    }
}

impl<B: Body> ResponseBody<B> {
    pub(crate) fn new(inner: B, mut request: Option<InFlight>) -> Self {
        // An empty body may never be polled: it ends here.
        if inner.is_end_stream() {
            if let Some(request) = request.as_mut() {
                request.body_end();
            }
        }
        Self { inner, request }
    }
}

impl<B: Body> Body for ResponseBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let mut this = self.project();
        let frame = ready!(this.inner.as_mut().poll_frame(cx));
        if let Some(request) = this.request.as_mut() {
            match &frame {
                Some(Ok(frame)) => {
                    if let Some(data) = frame.data_ref() {
                        request.sent(bytes::Buf::remaining(data));
                    }
                    if this.inner.is_end_stream() {
                        request.body_end();
                    }
                }
                Some(Err(_)) => request.body_error(),
                None => request.body_end(),
            }
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<B: Body> fmt::Debug for ResponseBody<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseBody")
            .field("request", &self.request)
            .finish_non_exhaustive()
    }
}
