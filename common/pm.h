/*  pm.h: libpm, the runtime every Praxis service is built on.            */
#ifndef PM_H
#define PM_H

#include "pm.pb-c.h"
#include "pm_audit.h"
#include "pm_auth.h"
#include "pm_cfg.h"
#include "pm_client.h"
#include "pm_err.h"
#include "pm_evlog.h"
#include "pm_id.h"
#include "pm_json.h"
#include "pm_key.h"
#include "pm_keys.h"
#include "pm_log.h"
#include "pm_schema.h"
#include "pm_server.h"
#include "pm_sock.h"
#include "pm_store.h"

#endif
