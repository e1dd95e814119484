/*  recruitment_offers.h: offers with an expiry; an accepted offer is a
    hire, announced as recruitment.candidate.hired for staffing.          */
#ifndef RECRUITMENT_OFFERS_H
#define RECRUITMENT_OFFERS_H

#include "recruitment_store.h"

//  Binds MakeOffer, AcceptOffer, DeclineOffer.
void rec_offers_setup (pm_server_t *server);

//  Timed work: offers past their expiry lapse (OFFER_EXPIRED), each once.
pm_err rec_offers_tick (pm_ctx_t *ctx);

#endif
