module vigil.test/gopingpong

go 1.19
