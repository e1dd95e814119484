/*  recruitment_schema.c: the recruitment service's commands and events.

    Roles: recruiters and practice managers run requisitions and the
    pipeline at their sites; only a practice manager approves a
    requisition; hiring managers move their openings' applications;
    interviewers (clinicians, managers) mark interviews held; candidates
    act through the careers gateway (apply, pick interview slots, answer
    offers, withdraw, answer the survey, ask for erasure); interviewers
    submit their own scorecards; a practice manager sets the site's
    service levels.
    Which stage each role may reach is the pipeline's table
    (recruitment_pipeline.c); the roles here only open the door.          */
#include "recruitment_schema.h"

#define RECRUIT (PM_ROLE_RECRUITER | PM_ROLE_PRACTICE_MANAGER)
//  Everyone with a part in hiring at a site.
#define HIRING (RECRUIT | PM_ROLE_HIRING_MANAGER)
//  Everyone who reads the pipeline, auditors included.
#define READ_HIRING (HIRING | PM_ROLE_CLINICIAN | PM_ROLE_AUDITOR | PM_ROLE_SERVICE)
//  Who moves applications: the table narrows it per stage.
#define PIPELINE (HIRING | PM_ROLE_CLINICIAN | PM_ROLE_GATEWAY)
//  Who sits on interview panels (the pipeline's interviewer).
#define INTERVIEWER (PM_ROLE_CLINICIAN | PM_ROLE_PRACTICE_MANAGER)
//  The candidate's own actions, or a recruiter recording them.
#define CANDIDATE (RECRUIT | PM_ROLE_GATEWAY)

#define D(name) &pm__recruitment__##name##__descriptor

static const pm_command_def_t s_commands[] = {
    //  Requisitions and postings
    {"recruitment.CreateRequisition", PM_WRITE, D (create_requisition), D (requisition),
     "write a requisition (site, role, headcount, description, pay range) as a draft",
     HIRING},
    {"recruitment.UpdateRequisition", PM_WRITE, D (update_requisition), D (requisition),
     "change a draft or held requisition (needs expected_version)", HIRING},
    {"recruitment.SubmitRequisition", PM_WRITE, D (requisition_action), D (requisition),
     "send a draft for approval", HIRING},
    {"recruitment.ApproveRequisition", PM_WRITE, D (requisition_action), D (requisition),
     "approve a requisition (a practice manager of its site): it opens",
     PM_ROLE_PRACTICE_MANAGER},
    {"recruitment.SendBackRequisition", PM_WRITE, D (requisition_action), D (requisition),
     "return a requisition to draft (reason)", PM_ROLE_PRACTICE_MANAGER},
    {"recruitment.HoldRequisition", PM_WRITE, D (requisition_action), D (requisition),
     "pause an open requisition (reason)", RECRUIT},
    {"recruitment.ResumeRequisition", PM_WRITE, D (requisition_action), D (requisition),
     "open a held requisition again", RECRUIT},
    {"recruitment.CancelRequisition", PM_WRITE, D (requisition_action), D (requisition),
     "give a requisition up (reason); its postings close", RECRUIT},
    {"recruitment.GetRequisition", PM_READ, D (get_requisition), D (requisition),
     "a requisition by id", READ_HIRING},
    {"recruitment.ListRequisitions", PM_READ, D (list_requisitions),
     D (requisition_list), "a site's requisitions (of one status)", READ_HIRING},
    {"recruitment.PublishPosting", PM_WRITE, D (publish_posting), D (posting),
     "post an open requisition on a channel", RECRUIT},
    {"recruitment.ClosePosting", PM_WRITE, D (close_posting), D (posting),
     "take a posting down", RECRUIT},
    {"recruitment.ListPostings", PM_READ, D (list_postings), D (posting_list),
     "what the careers page shows: live postings of open requisitions", PM_ROLES_ALL},
    {"recruitment.RecordCost", PM_WRITE, D (record_cost), D (recruitment_cost),
     "a requisition's cost besides salary (advertising, agency, ...)",
     RECRUIT | PM_ROLE_FINANCE},
    {"recruitment.ListCosts", PM_READ, D (list_costs), D (cost_list),
     "a requisition's costs", RECRUIT | PM_ROLE_FINANCE | PM_ROLE_AUDITOR},
    //  Candidates and the pipeline
    {"recruitment.Apply", PM_WRITE, D (apply), D (apply_result),
     "apply to a posting (contact data, CV reference, source); duplicates link",
     CANDIDATE},
    {"recruitment.GetCandidate", PM_READ, D (get_candidate), D (candidate),
     "a candidate by id (audited)", HIRING | PM_ROLE_AUDITOR},
    {"recruitment.GetApplication", PM_READ, D (get_application), D (application),
     "an application with its stage history", READ_HIRING},
    {"recruitment.ListApplications", PM_READ, D (list_applications),
     D (application_list), "a requisition's applications", READ_HIRING},
    {"recruitment.Move", PM_WRITE, D (move), D (application),
     "move an application one stage (the table says where and who)", PIPELINE},
    {"recruitment.MakeOffer", PM_WRITE, D (make_offer), D (application),
     "offer the job after an interview (pay, start, expiry)", HIRING},
    {"recruitment.AcceptOffer", PM_WRITE, D (answer_offer), D (application),
     "the candidate accepts: hired, and staffing onboards them", CANDIDATE},
    {"recruitment.DeclineOffer", PM_WRITE, D (answer_offer), D (application),
     "the candidate declines (reason)", CANDIDATE},
    //  Interviews
    {"recruitment.ProposeInterviewSlots", PM_READ, D (propose_interview_slots),
     D (slot_list),
     "times a panel is free for an application (rostered, not on leave, in no "
     "other interview) on the site's local days", HIRING | PM_ROLE_GATEWAY},
    {"recruitment.BookInterview", PM_WRITE, D (book_interview), D (interview),
     "the candidate's pick of a slot, checked again for every interviewer",
     CANDIDATE},
    {"recruitment.RescheduleInterview", PM_WRITE, D (reschedule_interview),
     D (interview), "a booked interview to another free time (reason)",
     CANDIDATE | HIRING},
    {"recruitment.CancelInterview", PM_WRITE, D (cancel_interview), D (interview),
     "cancel a booked interview (reason)", CANDIDATE | HIRING},
    {"recruitment.SubmitScorecard", PM_WRITE, D (submit_scorecard), D (interview),
     "an interviewer's own scorecard (ratings 1-5, recommendation); amend with "
     "expected_version", INTERVIEWER},
    {"recruitment.ListInterviews", PM_READ, D (list_interviews), D (interview_list),
     "an application's interviews with their scorecards (audited)", READ_HIRING},
    //  Candidate experience
    {"recruitment.ExperienceReport", PM_READ, D (get_experience_report),
     D (experience_report),
     "a site's candidate experience per requisition: first response, time in "
     "stage, time to offer and hire, offer acceptance, sources",
     HIRING | PM_ROLE_AUDITOR},
    {"recruitment.SetServiceLevels", PM_WRITE, D (set_service_levels),
     D (service_levels),
     "a site's promises (acknowledge within hours, decide within days, answer "
     "within hours) and default retention: a practice manager of the site",
     PM_ROLE_PRACTICE_MANAGER},
    {"recruitment.GetServiceLevels", PM_READ, D (get_service_levels),
     D (service_levels), "a site's service levels", HIRING | PM_ROLE_AUDITOR},
    {"recruitment.ListBreaches", PM_READ, D (list_breaches), D (breach_list),
     "a site's service-level breaches (of one kind, in a time range)",
     HIRING | PM_ROLE_AUDITOR},
    {"recruitment.LogMessage", PM_WRITE, D (log_message), D (candidate_message),
     "log a message to (recruiter, hiring manager) or from (gateway, recruiter) a "
     "candidate; to them answers theirs", CANDIDATE | HIRING},
    {"recruitment.ListMessages", PM_READ, D (list_messages), D (message_list),
     "an application's messages, answered or not (audited)", READ_HIRING},
    {"recruitment.SubmitSurvey", PM_WRITE, D (submit_survey), D (survey),
     "the candidate's survey after their process ended (0-10, comment), once",
     CANDIDATE},
    //  Privacy
    {"recruitment.SetCandidatePrivacy", PM_WRITE, D (set_candidate_privacy),
     D (candidate), "record a candidate's consent and/or retention period (audited)",
     CANDIDATE},
    {"recruitment.EraseCandidate", PM_WRITE, D (erase_candidate), D (candidate),
     "erase a candidate's personal data on request (no open process; audited)",
     CANDIDATE},
    //  The talent pool
    {"recruitment.SetCandidateSkills", PM_WRITE, D (set_candidate_skills), D (candidate),
     "replace a candidate's skills (what talent-pool keywords match; audited)",
     CANDIDATE},
    {"recruitment.SearchTalentPool", PM_READ, D (search_talent_pool),
     D (talent_pool_page),
     "earlier candidates who agreed to be kept: by role, site, skills, not hired, "
     "recent activity; most relevant first, paged (each audited)",
     HIRING | PM_ROLE_AUDITOR},
    {NULL, 0, NULL, NULL, NULL, 0},
};

static const pm_event_def_t s_events[] = {
    {"recruitment.cost.recorded", D (recruitment_cost)},
    {"recruitment.requisition.created", D (requisition)},
    {"recruitment.requisition.updated", D (requisition)},
    {"recruitment.requisition.submitted", D (requisition)},
    {"recruitment.requisition.approved", D (requisition)},
    {"recruitment.requisition.sent_back", D (requisition)},
    {"recruitment.requisition.held", D (requisition)},
    {"recruitment.requisition.resumed", D (requisition)},
    {"recruitment.requisition.cancelled", D (requisition)},
    {"recruitment.requisition.filled", D (requisition)},
    {"recruitment.posting.published", D (posting)},
    {"recruitment.posting.closed", D (posting)},
    {"recruitment.candidate.registered", D (candidate)},
    {"recruitment.candidate.updated", D (candidate)},
    {"recruitment.application.received", D (application)},
    {"recruitment.application.moved", D (application)},
    {"recruitment.candidate.hired", D (candidate_hired)},
    {"recruitment.interview.scheduled", D (interview)},
    {"recruitment.interview.rescheduled", D (interview)},
    {"recruitment.interview.cancelled", D (interview)},
    {"recruitment.scorecard.submitted", D (interview)},
    {"recruitment.service_levels.set", D (service_levels)},
    {"recruitment.sla.breached", D (breach)},
    {"recruitment.message.logged", D (candidate_message)},
    {"recruitment.message.answered", D (candidate_message)},
    {"recruitment.survey.submitted", D (survey)},
    {"recruitment.candidate.erased", D (candidate)},
    {"recruitment.candidate.events_redacted", D (candidate_event_redaction)},
    {NULL, NULL},
};

const pm_schema_t recruitment_schema = {"recruitment", s_commands, s_events};
