/*  pm_metrics.h: Prometheus metrics of one service, served as text on
    an HTTP port (libmicrohttpd, its own thread). The service loop counts;
    the HTTP thread formats at scrape time; a mutex sits between them.

    Exposed: pm_requests_total{type,code}, pm_request_duration_seconds
    (histogram, by kind read/write), pm_batch_size (histogram),
    pm_events_published_total, and gauges the loop refreshes every second
    (stream high seq, map size and use, audit entries, consumer lag).    */
#ifndef PM_METRICS_H
#define PM_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pm_err.h"

typedef struct _pm_metrics_t pm_metrics_t;

//  Serves metrics of `service` at `listen` ("host:port"; port 0 = any
//  free one; "off" = none). NULL when it cannot listen (logged).
pm_metrics_t *pm_metrics_new (const char *service, const char *listen);

void pm_metrics_destroy (pm_metrics_t **self_p);

//  The port it listens on (0 when off).
int pm_metrics_port (pm_metrics_t *self);

//  One answered request: its command (or "unknown"), result and time.
void pm_metrics_request (pm_metrics_t *self, const char *type, pm_err code,
                         bool write, int64_t micros);

//  One committed batch of `size` write requests.
void pm_metrics_batch (pm_metrics_t *self, size_t size);

//  `n` events published.
void pm_metrics_events (pm_metrics_t *self, size_t n);

//  Sets gauge `name` with label set `labels` ("" or `source="staffing"`).
void pm_metrics_gauge (pm_metrics_t *self, const char *name, const char *help,
                       const char *labels, double value);

//  The whole exposition text (caller frees); what the HTTP port serves.
char *pm_metrics_text (pm_metrics_t *self);

#endif
