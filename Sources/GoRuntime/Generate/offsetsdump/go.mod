module vigil/offsetsdump

go 1.19
