/* SPDX-License-Identifier: MIT */
/* cio_curl.h — HTTP (and everything else libcurl speaks) from tasks: a
 * curl_easy_perform that suspends the calling task instead of blocking the
 * thread. One curl multi handle per loop drives every transfer through
 * curl's socket and timer callbacks, so any number of transfers share the
 * loop's thread, and reuse each other's connections.
 *
 * Link with libcio-curl (pkg-config --libs cio-curl; CMake: cio::curl),
 * which brings libcio and libcurl.
 */
#ifndef CIO_CURL_H
#define CIO_CURL_H

#include <cio.h>
#include <curl/curl.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Runs the transfer set up on `easy` (curl_easy_setopt as for
 * curl_easy_perform) on the running loop's multi handle, and suspends the
 * calling task until it is done. Other tasks run meanwhile.
 * Returns: the transfer's CURLcode, as curl_easy_perform would (CURLE_OK for
 *   any HTTP status: read it with CURLINFO_RESPONSE_CODE);
 *   CURLE_BAD_FUNCTION_ARGUMENT for a NULL easy handle, outside a task, or
 *   for a handle another cio_curl_perform is running; CURLE_OUT_OF_MEMORY;
 *   CURLE_ABORTED_BY_CALLBACK if the task is cancelled (before or during
 *   the transfer), CURLE_OPERATION_TIMEDOUT if an enclosing cio_timeout
 *   expires.
 * Suspends: yes.
 * Cancellation: the transfer is stopped (removed from the multi handle, its
 *   connection closed if it was mid-transfer) before the call returns; the
 *   easy handle can be used again.
 * Ownership: `easy` stays the caller's; do not touch it (nor clean it up)
 *   until the call returns. curl_global_init runs on first use. */
CIO_EXTERN CURLcode cio_curl_perform(CURL *easy);

#ifdef __cplusplus
}
#endif

#endif
