templates {
}
