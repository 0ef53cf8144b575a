import { DateTime, Settings } from 'luxon';

// Luxon, as every part of Sitrep uses it. Every text Sitrep renders is in en-US (SITREP_TIMEZONE
// picks the zone, never the language), so that is luxon's default locale too: without one, luxon
// asks Intl for the system's locale the first time it makes a date, about a tenth of a CLI
// command's start-up, for a locale every format then replaces.
Settings.defaultLocale = 'en-US';

export { DateTime };
