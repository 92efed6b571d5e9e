package haproxy

import "testing"

func TestParseServerConns(t *testing.T) {
	// As HAProxy 2.6.12 prints it.
	reply := "# bkname/svname bkid/svid addr port - purge_delay used_cur used_max need_est unsafe_nb safe_nb idle_lim idle_cur idle_per_thr[2]\n" +
		"be/s1 3/1 127.0.0.1 43001 - 500 4 8 8 0 4 -1 4 3 1\n" +
		"be/s2 3/2 127.0.0.1 43002 - 500 0 0 0 0 0 -1 0 0 0\n\n"
	got, err := ParseServerConns(reply)
	if err != nil {
		t.Fatal(err)
	}
	if got["s1"] != (ServerConns{Used: 4, Idle: 4}) || got["s2"] != (ServerConns{}) || len(got) != 2 {
		t.Errorf("got %+v", got)
	}
	for _, bad := range []string{"", "Unknown command\n", "# bkname/svname addr\nbe/s1 1.2.3.4\n",
		"# bkname/svname used_cur idle_cur\nbe/s1 x 0\n"} {
		if _, err := ParseServerConns(bad); err == nil {
			t.Errorf("ParseServerConns(%q): no error", bad)
		}
	}
}
