"""Make skipped end-to-end tests impossible to miss, even under -q."""


def pytest_terminal_summary(terminalreporter):
    reasons = {}
    for report in terminalreporter.stats.get('skipped', []):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) \
            else str(report.longrepr)
        if 'memprof e2e:' in reason:
            reasons[reason] = reasons.get(reason, 0) + 1
    for reason, count in reasons.items():
        terminalreporter.write_line('SKIPPED %d e2e test(s): %s'
                                    % (count, reason.replace('Skipped: ', '')),
                                    yellow=True, bold=True)
