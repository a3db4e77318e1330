package auth

// ObserveLogins makes f see the outcome of every sign-in attempt checked
// by CheckCredentials ("succeeded", "failed" or "throttled"), for the
// metrics. Call it before serving.
func (s *Service) ObserveLogins(f func(outcome string)) { s.onLogin = f }

func (s *Service) observeLogin(outcome string) {
	if s.onLogin != nil {
		s.onLogin(outcome)
	}
}
