// What the three ACL APIs answer. Sluice authenticates no one, so, like a Kafka broker without an authorizer, it
// keeps no ACLs: each request is answered SECURITY_DISABLED (rather than left unadvertised, which clients
// report as an API the broker does not know).
export const NO_AUTHORIZER = 'no authorizer is configured on the broker: Sluice has no authentication, so no ACLs';
