import { COPY_ON_WRITE, describeExactTables } from './exactTables/exactTablesSuite.js';

// The acceptance test of issue 11 (see exactTablesSuite.ts) on a lake in this mode.
describeExactTables(COPY_ON_WRITE);
