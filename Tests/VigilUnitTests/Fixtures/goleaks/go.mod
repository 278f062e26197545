module vigil.test/goleaks

go 1.19
