// What berthd says it is (/version, /info, the Server header). The build fills in the commit and
// the time (scripts/build.mjs defines them); from the sources they read "unknown".
declare const __BERTH_GIT_COMMIT__: string | undefined;
declare const __BERTH_BUILD_TIME__: string | undefined;

export const BERTH_VERSION = '0.1.0';
export const GIT_COMMIT = typeof __BERTH_GIT_COMMIT__ === 'string' ? __BERTH_GIT_COMMIT__ : 'unknown';
export const BUILD_TIME = typeof __BERTH_BUILD_TIME__ === 'string' ? __BERTH_BUILD_TIME__ : 'unknown';
