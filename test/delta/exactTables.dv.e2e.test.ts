import { DELETION_VECTORS, describeExactTables } from './exactTables/exactTablesSuite.js';

// The acceptance test of issue 11 (see exactTablesSuite.ts) on a lake in this mode.
describeExactTables(DELETION_VECTORS);
