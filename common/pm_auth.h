/*  pm_auth.h: who may do what. A principal (from its CURVE key) has one
    role and a set of sites; every command in a schema names the roles
    that may call it. network-admin may call everything.                  */
#ifndef PM_AUTH_H
#define PM_AUTH_H

typedef enum {
    PM_ROLE_NETWORK_ADMIN = 1 << 0,   //  runs the network; every site
    PM_ROLE_PRACTICE_MANAGER = 1 << 1, //  runs their sites
    PM_ROLE_FRONT_DESK = 1 << 2,      //  registration, booking, check-in
    PM_ROLE_CLINICIAN = 1 << 3,       //  sees and treats patients
    PM_ROLE_RECRUITER = 1 << 4,
    PM_ROLE_HIRING_MANAGER = 1 << 5,
    PM_ROLE_FINANCE = 1 << 6,
    PM_ROLE_AUDITOR = 1 << 7,         //  reads the record, changes nothing
    PM_ROLE_SERVICE = 1 << 8,         //  another Praxis service
    PM_ROLE_GATEWAY = 1 << 9,         //  acts for an end user named in the request
} pm_role_t;

#define PM_ROLE_COUNT 10
#define PM_ROLES_ALL ((1u << PM_ROLE_COUNT) - 1)
//  Everyone who works with patients at a desk or in a room.
#define PM_ROLES_CARE (PM_ROLE_PRACTICE_MANAGER | PM_ROLE_FRONT_DESK | PM_ROLE_CLINICIAN)

//  The role's name ("front-desk"), NULL for a value that is not one role.
const char *pm_role_name (unsigned role);

//  The role named `name`, 0 if none.
unsigned pm_role_from_name (const char *name);

#endif
