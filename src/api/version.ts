// The Engine API versions berthd serves: docker 20.10's (the client Debian ships), down to the
// oldest that release still answered.
export const API_VERSION = '1.41';
export const MIN_API_VERSION = '1.12';
