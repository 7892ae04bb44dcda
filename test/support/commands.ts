/** Commands for tests that need a few hand-made stations: one registration a minute from 2026-02-01. */
export const register = (serial: string, name: string, minute: number) => ({
  command_id: `reg-${serial}`,
  command_name: 'RegisterSupercharger',
  received: new Date(Date.parse('2026-02-01T00:00:00Z') + minute * 60_000).toISOString(),
  command: { supercharger_serial: serial, location_name: name, supercharger_type: 'V3', lat: 1, long: 2 },
});
